// Command noruntime never uses mpgen: it needs no guard and gets no file.
package main

import "fmt"

func main() { fmt.Println("a plain tool") }
