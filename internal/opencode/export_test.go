package opencode

// PickPod is tested on its own: the port-forward it picks for needs a
// kubelet, which envtest lacks.
var PickPod = pickPod
