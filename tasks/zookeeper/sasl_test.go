package zookeeper

import (
	"strings"
	"testing"
)

func TestDigestMD5RFC2831Example(t *testing.T) {
	// RFC 2831 §4's example, with its cnonce and digest-uri.
	ch := parseDigestChallenge(`realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`)
	resp, rspauth, err := digestResponse(ch, "chris", "secret", "OA6MHXh6VqTrRk", "imap/elwood.innosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp, "response=d388dad90d4bbd760a152321f2143af7") {
		t.Errorf("response: %s", resp)
	}
	if rspauth != "ea40f60335c427b5527b84dbabcdfffd" {
		t.Errorf("rspauth %s", rspauth)
	}
	if _, _, err := parseSASLOptions(`{"mechanism":"GSSAPI"}`); err == nil {
		t.Error("GSSAPI accepted")
	}
}
