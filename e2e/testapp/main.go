// Command testapp is the app Berth's end-to-end tests deploy. One static
// binary, several roles:
//
//	testapp web          HTTP on $PORT: / reports the version and dyno, /env the environment,
//	                     /slow?ms=N answers after N ms, /ws is a WebSocket that sends a
//	                     message every 100 ms; SIGTERM closes sockets cleanly, then exits
//	testapp worker       prints a heartbeat line every 200 ms
//	testapp exit N       exits at once with code N
//	testapp echo WORDS   prints its arguments and stdin, then exits
//	testapp migrate      creates its tables in $DATABASE_URL (the seed's predeploy migrate)
//	testapp dial ADDR... opens a TCP connection to each HOST:PORT (2 s timeout), prints
//	                     "ADDR reached" or "ADDR unreachable: ERR"; exits 1 unless all were reached
//
// The web role also serves /db (Postgres through $DATABASE_URL) and /kv
// (Redis through $REDIS_URL); see data.go. With $ALLOWED_HOST set (a
// comma-separated list; ".example.com" also allows its subdomains) it
// answers 400 to any other Host, as Django does with ALLOWED_HOSTS.
package main

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	case "migrate":
		if err := migrate(); err != nil {
			fmt.Fprintln(os.Stderr, "migrate:", err)
			os.Exit(1)
		}
	case "dial":
		os.Exit(dial(os.Args[2:]))
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
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "version=%s dyno=%s\n", os.Getenv("APP_VERSION"), os.Getenv("DYNO"))
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		json.NewEncoder(w).Encode(env)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat("/tmp/unhealthy"); err == nil || os.Getenv("HEALTH_FAIL") != "" {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok", os.Getenv("APP_VERSION"))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slept %d ms in %s\n", ms, os.Getenv("APP_VERSION"))
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		// What the proxy sent: the request line, Host and headers.
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "uri": r.RequestURI, "host": r.Host,
			"header": r.Header, "length": r.ContentLength, "body": string(body)})
	})
	mux.HandleFunc("/ws", serveWS)
	dataHandlers(mux)
	srv := &http.Server{Addr: ":" + port, Handler: allowedHosts(os.Getenv("ALLOWED_HOST"), mux)}
	listening := port
	if addr := os.Getenv("LISTEN_ADDR"); addr != "" {
		// The classic mistakes: bound to localhost, or to another port.
		srv.Addr, listening = addr, addr
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		fmt.Println("stopping: closing websockets, finishing requests")
		closeAllWS()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	fmt.Println("listening on", listening)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wsWG.Wait()
}

// allowedHosts answers 400 to a request whose Host (without its port) is
// not in the comma-separated list allowed, as Django does; "" allows all.
func allowedHosts(allowed string, next http.Handler) http.Handler {
	if allowed == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		for _, a := range strings.Split(strings.ToLower(allowed), ",") {
			if a = strings.TrimSpace(a); a == host || strings.HasPrefix(a, ".") && (host == a[1:] || strings.HasSuffix(host, a)) {
				next.ServeHTTP(w, r)
				return
			}
		}
		fmt.Printf("Invalid HTTP_HOST header: %q\n", r.Host)
		http.Error(w, "Bad Request (400)", http.StatusBadRequest)
	})
}

var (
	wsMu    sync.Mutex
	wsConns = map[net.Conn]*wsConn{}
	wsWG    sync.WaitGroup
)

// serveWS is a minimal RFC 6455 server: it sends a text message every
// 100 ms until the client closes or the app stops (then a close frame).
func serveWS(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n")
	buf.Flush()
	ws := &wsConn{read: make(chan struct{})}
	mu := &ws.mu
	wsMu.Lock()
	wsConns[conn] = ws
	wsMu.Unlock()
	wsWG.Add(1)
	defer func() {
		wsMu.Lock()
		delete(wsConns, conn)
		wsMu.Unlock()
		conn.Close()
		wsWG.Done()
	}()
	go func() { // ignore client frames, until the client closes
		io.Copy(io.Discard, conn)
		close(ws.read)
	}()
	for i := 0; ; i++ {
		mu.Lock()
		if ws.closing { // no message after the close frame
			mu.Unlock()
			<-ws.read
			return
		}
		_, err := conn.Write(wsFrame(0x1, []byte(fmt.Sprintf("message %d from %s", i, os.Getenv("APP_VERSION")))))
		mu.Unlock()
		if err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wsConn is an open socket: its writes' lock, and read closed when the
// client ended its side.
type wsConn struct {
	mu      sync.Mutex
	closing bool // the close frame was sent
	read    chan struct{}
}

// closeAllWS sends every open socket a close frame and ends it once the
// client closed its side, or after 2 s (RFC 6455's closing handshake:
// the server closes the TCP connection after the client's answer, so the
// frame is not lost in a reset or a proxy torn down at once).
func closeAllWS() {
	wsMu.Lock()
	defer wsMu.Unlock()
	for conn, ws := range wsConns {
		ws.mu.Lock()
		conn.Write(wsFrame(0x8, []byte{0x03, 0xe9})) // 1001 going away
		ws.closing = true
		ws.mu.Unlock()
	}
	deadline := time.After(2 * time.Second)
	for conn, ws := range wsConns {
		select {
		case <-ws.read:
		case <-deadline:
		}
		ws.mu.Lock()
		conn.Close()
		ws.mu.Unlock()
	}
}

func wsFrame(op byte, payload []byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		f = append(f, byte(n))
	default:
		f = append(f, 126, byte(n>>8), byte(n))
	}
	return append(f, payload...)
}

// dial opens a TCP connection to each address at once and reports, in
// order, which it reached; it returns 1 unless all were.
func dial(addrs []string) int {
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err == nil {
				c.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	code := 0
	for i, addr := range addrs {
		if errs[i] != nil {
			fmt.Printf("%s unreachable: %v\n", addr, errs[i])
			code = 1
			continue
		}
		fmt.Printf("%s reached\n", addr)
	}
	return code
}
