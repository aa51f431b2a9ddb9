// Command backend is the small HTTP server behind every proxy of
// bench/proxycmp: it answers any request with a 13-byte text body. It
// listens on $PORT (HTTP/1.1) and, when $TLS_PORT is set, on that port with
// TLS (the certificate and key in $TLS_CERT and $TLS_KEY; HTTP/2 and
// HTTP/1.1 by ALPN), so that the bench can also measure the backend
// directly over TLS.
package main

import (
	"log"
	"net/http"
	"os"
)

var body = []byte("hello, world\n")

func main() {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "5000"
	}
	if tp := os.Getenv("TLS_PORT"); tp != "" {
		go func() {
			log.Fatal(http.ListenAndServeTLS(":"+tp, os.Getenv("TLS_CERT"), os.Getenv("TLS_KEY"), h))
		}()
	}
	log.Fatal(http.ListenAndServe(":"+port, h))
}
