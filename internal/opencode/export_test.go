package opencode

import "net/http"

// SetHTTPClient lets the tests trust a TLS test server's certificate.
func (c *Client) SetHTTPClient(h *http.Client) { c.setHTTPClient(h) }

// PickPod is tested on its own: the port-forward it picks for needs a
// kubelet, which envtest lacks.
var PickPod = pickPod
