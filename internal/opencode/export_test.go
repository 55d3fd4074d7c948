package opencode

import "net/http"

// SetHTTPClient lets the tests trust a TLS test server's certificate: it
// takes h's transport, and the client keeps its refusal of redirects.
func (c *Client) SetHTTPClient(h *http.Client) { c.http.Transport = h.Transport }

// PickPod is tested on its own: the port-forward it picks for needs a
// kubelet, which envtest lacks.
var PickPod = pickPod
