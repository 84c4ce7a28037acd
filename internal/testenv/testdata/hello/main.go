// Command hello is a tiny main package for testenv's BuildBinary test.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("hello from", os.Args[0])
	if len(os.Args) > 1 && os.Args[1] == "fail" {
		os.Exit(3)
	}
}
