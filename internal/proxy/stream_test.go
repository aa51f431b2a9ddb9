package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The few bits of RFC 6455 a WebSocket echo needs.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

const (
	wsText  = 1
	wsClose = 8
)

// wsWrite writes one final frame; clients mask, servers do not.
func wsWrite(w io.Writer, op byte, payload []byte, mask bool) error {
	hdr := []byte{0x80 | op}
	var m byte
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, m|byte(n))
	case n < 1<<16:
		hdr = append(hdr, m|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, m|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	data := payload
	if mask {
		var key [4]byte
		rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		data = make([]byte, len(payload))
		for i := range payload {
			data[i] = payload[i] ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr, data...))
	return err
}

func wsRead(r io.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	op = h[0] & 0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return op, payload, nil
}

// wsEcho is a WebSocket server that echoes frames until a close frame.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
		http.Error(w, "not a websocket handshake", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if brw.Flush() != nil {
		return
	}
	for {
		op, p, err := wsRead(brw)
		if err != nil {
			return
		}
		if wsWrite(conn, op, p, false) != nil || op == wsClose {
			return
		}
	}
}

func TestWebSocketEcho(t *testing.T) {
	p := startProxy(t, "")
	b := httptest.NewServer(http.HandlerFunc(wsEcho))
	defer b.Close()
	p.set(Route{App: "chat", Hosts: []string{"chat.example.com"}, Targets: []Target{target(b, "chat.web.1")}})

	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var raw [16]byte
	rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	fmt.Fprintf(conn, "GET /socket HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("handshake: %s %v", resp.Status, resp.Header)
	}
	for _, msg := range []string{"hello", strings.Repeat("long ", 100)} {
		if err := wsWrite(conn, wsText, []byte(msg), true); err != nil {
			t.Fatal(err)
		}
		op, got, err := wsRead(br)
		if err != nil || op != wsText || string(got) != msg {
			t.Fatalf("echo: op %d %q %v", op, got, err)
		}
	}

	// The open connection counts as in flight on its target.
	ctx := context.Background()
	if n, err := p.c.Drain(ctx, []string{addr(b)}, 20*time.Millisecond); n != 1 || err != nil {
		t.Errorf("Drain with a WebSocket open: %d %v, want 1", n, err)
	}
	wsWrite(conn, wsClose, []byte{3, 232}, true)
	if op, _, err := wsRead(br); op != wsClose || err != nil {
		t.Errorf("close: op %d %v", op, err)
	}
	conn.Close()
	if n, err := p.c.Drain(ctx, []string{addr(b)}, 5*time.Second); n != 0 || err != nil {
		t.Errorf("Drain after the WebSocket closed: %d %v", n, err)
	}
}

// A WebSocket still open at shutdown is closed when the timeout passes, and
// Run returns.
func TestWebSocketAtShutdown(t *testing.T) {
	p := startProxy(t, "", func(c *Config) { c.ShutdownTimeout = 50 * time.Millisecond })
	b := httptest.NewServer(http.HandlerFunc(wsEcho))
	defer b.Close()
	p.set(Route{App: "chat", Hosts: []string{"chat.example.com"}, Targets: []Target{target(b, "chat.web.1")}})
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wsRead(br); err == nil {
		t.Error("the WebSocket is still open after Run returned")
	}
}

func TestStreamingArrivesIncrementally(t *testing.T) {
	p := startProxy(t, "")
	next := make(chan struct{})
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "text/plain") // chunked, no Content-Length
		}
		io.WriteString(w, "data: one\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: two\n\n")
	}))
	defer b.Close()
	p.set(Route{App: "feed", Hosts: []string{"feed.example.com"}, Targets: []Target{target(b, "feed.web.1")}})

	for _, path := range []string{"/events", "/chunked"} {
		resp, err := p.client.Do(p.request("GET", "feed.example.com", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		// The first event arrives while the backend still waits.
		if line, err := br.ReadString('\n'); line != "data: one\n" || err != nil {
			t.Fatalf("%s: first event: %q %v", path, line, err)
		}
		next <- struct{}{}
		rest, err := io.ReadAll(br)
		if string(rest) != "\ndata: two\n\n" || err != nil {
			t.Errorf("%s: rest: %q %v", path, rest, err)
		}
		resp.Body.Close()
	}
}
