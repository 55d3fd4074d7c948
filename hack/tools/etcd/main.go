// Command etcd is upstream etcd's server entry point, built from Go modules
// for envtest by hack/envtest-assets.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
