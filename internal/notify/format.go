package notify

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Payload formats of a target.
const (
	FormatJSON    = "json"
	FormatSlack   = "slack"
	FormatDiscord = "discord"
)

// Formats are the payload formats a target may use.
var Formats = []string{FormatJSON, FormatSlack, FormatDiscord}

// discordLimit is the most characters Discord takes in "content";
// slackLimit the most Slack takes in a block's text (3000 in a section,
// 2000 in a context element: the smaller for both).
const (
	discordLimit = 2000
	slackLimit   = 2000
)

// jsonPayload is Berth's own format.
type jsonPayload struct {
	Event   string            `json:"event"`
	App     string            `json:"app,omitempty"`
	Release int               `json:"release,omitempty"`
	Message string            `json:"message"`
	Time    string            `json:"time"`
	Host    string            `json:"host,omitempty"`
	Details map[string]string `json:"details,omitempty"`
}

// slackPayload is an incoming-webhook message: text (shown in
// notifications and by clients without blocks) and blocks.
type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// discordPayload is a Discord webhook message; allowed_mentions is empty
// so that text from an app (an error line) cannot ping @everyone.
type discordPayload struct {
	Content         string          `json:"content"`
	AllowedMentions allowedMentions `json:"allowed_mentions"`
}

type allowedMentions struct {
	Parse []string `json:"parse"`
}

// Payload is the body a target of the given format receives for ev, sent
// from host (the server's name, "" to leave it out).
func Payload(format, host string, ev Event) ([]byte, error) {
	switch format {
	case FormatJSON, "":
		return json.Marshal(jsonPayload{Event: ev.Kind, App: ev.App, Release: ev.Release, Message: ev.Message,
			Time: ev.Time.UTC().Format(time.RFC3339), Host: host, Details: ev.Details})
	case FormatSlack:
		text := slackEscape(headline(host, ev))
		p := slackPayload{Text: text, Blocks: []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: cut("*"+text+"*", slackLimit)}}}}
		if d := detailLines(ev.Details); len(d) > 0 {
			var els []slackText
			for _, l := range d {
				els = append(els, slackText{Type: "mrkdwn", Text: cut(slackEscape(l), slackLimit)})
			}
			p.Blocks = append(p.Blocks, slackBlock{Type: "context", Elements: els[:min(len(els), 10)]}) // Slack's limit
		}
		return json.Marshal(p)
	case FormatDiscord:
		text := headline(host, ev)
		if d := detailLines(ev.Details); len(d) > 0 {
			text += "\n" + strings.Join(d, "\n")
		}
		return json.Marshal(discordPayload{Content: cut(text, discordLimit), AllowedMentions: allowedMentions{Parse: []string{}}})
	}
	return nil, fmt.Errorf("unknown format %q; formats are %s", format, strings.Join(Formats, ", "))
}

// headline is the event in one line: "[berth@host] deploy-failed shop
// (release 4): message".
func headline(host string, ev Event) string {
	var b strings.Builder
	b.WriteString("[berth")
	if host != "" {
		b.WriteString("@" + host)
	}
	b.WriteString("] " + ev.Kind)
	if ev.App != "" {
		b.WriteString(" " + ev.App)
	}
	if ev.Release > 0 {
		fmt.Fprintf(&b, " (release %d)", ev.Release)
	}
	if ev.Message != "" {
		b.WriteString(": " + ev.Message)
	}
	return b.String()
}

// detailLines are the details as "key: value" lines, sorted by key.
func detailLines(d map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		out = append(out, k+": "+d[k])
	}
	return out
}

// cut shortens s to at most n characters, ending it with "…" when cut.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// slackEscape escapes what Slack's mrkdwn treats as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
