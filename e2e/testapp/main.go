// Command testapp is the app Berth's end-to-end tests deploy. One static
// binary, several roles:
//
//	testapp web          HTTP on $PORT: / reports the version and dyno, /env the environment
//	testapp worker       prints a heartbeat line every 200 ms
//	testapp exit N       exits at once with code N
//	testapp echo WORDS   prints its arguments and stdin, then exits
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testapp web|worker|exit N|echo ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "web":
		web()
	case "worker":
		for i := 0; ; i++ {
			fmt.Printf("heartbeat %d from %s version %s\n", i, os.Getenv("DYNO"), os.Getenv("APP_VERSION"))
			time.Sleep(200 * time.Millisecond)
		}
	case "exit":
		code := 0
		if len(os.Args) > 2 {
			code, _ = strconv.Atoi(os.Args[2])
		}
		fmt.Println("exiting with", code)
		os.Exit(code)
	case "echo":
		fmt.Println(strings.Join(os.Args[2:], " "))
		io.Copy(os.Stdout, os.Stdin)
	default:
		fmt.Fprintln(os.Stderr, "unknown role", os.Args[1])
		os.Exit(2)
	}
}

func web() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "5000"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "version=%s dyno=%s\n", os.Getenv("APP_VERSION"), os.Getenv("DYNO"))
	})
	http.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		json.NewEncoder(w).Encode(env)
	})
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	fmt.Println("listening on", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
