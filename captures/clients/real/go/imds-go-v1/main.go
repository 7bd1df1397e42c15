// The AWS SDK for Go v1 (Debian's golang-github-aws-aws-sdk-go-dev, built by
// scripts/clients-lab.sh) fetching instance credentials, for tests/clients_real.rs. Runs only
// inside the test namespaces, where 169.254.169.254 is the mock. Prints no credential value.
package main

import (
	"fmt"
	"net"
	"os"

	"github.com/aws/aws-sdk-go/aws/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go/aws/session"
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
	_, err := ec2rolecreds.NewCredentials(session.Must(session.NewSession())).Get()
	fmt.Println("go v1: credentials found:", err == nil)
	if err != nil {
		os.Exit(1)
	}
}
