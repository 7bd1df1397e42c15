// The AWS SDK for Go v2 (Debian's golang-github-aws-aws-sdk-go-v2-dev, built by
// scripts/clients-lab.sh) fetching instance credentials, for tests/clients_real.rs. Runs only
// inside the test namespaces, where 169.254.169.254 is the mock. Prints no credential value.
package main

import (
	"fmt"
	"net"
	"os"

	"context"

	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
)

func main() {
	inside := false
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		switch i.Name {
		case "h-imds", "h-ctr", "ctr0", "imds0":
			inside = true
		}
	}
	if !inside {
		fmt.Fprintln(os.Stderr, "refusing to run: not inside an imw- test namespace")
		os.Exit(2)
	}
	_, err := ec2rolecreds.New().Retrieve(context.Background())
	fmt.Println("go v2: credentials found:", err == nil)
	if err != nil {
		os.Exit(1)
	}
}
