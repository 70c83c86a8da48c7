package modules

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseUserFact(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		out     string
		code    int
		want    *userInfo
		wantErr string
	}{
		{"absent", "absent\n", 0, &userInfo{Name: "deploy"}, ""},
		{"present", "passwd deploy:x:1001:1001:Deploy User,,,:/home/deploy:/bin/bash\nprimary deploy\ngroups deploy sudo docker\nshadow " + digest + "\n", 0,
			&userInfo{Exists: true, Name: "deploy", UID: 1001, GID: 1001, Comment: "Deploy User,,,", Home: "/home/deploy", Shell: "/bin/bash",
				Primary: "deploy", Groups: []string{"sudo", "docker"}, Shadow: digest, ShadowRead: true}, ""},
		{"no supplementary groups, shadow unreadable", "passwd deploy:x:1001:100::/home/deploy:/bin/sh\nprimary users\ngroups users\nshadow unreadable\n", 0,
			&userInfo{Exists: true, Name: "deploy", UID: 1001, GID: 100, Home: "/home/deploy", Shell: "/bin/sh", Primary: "users"}, ""},
		{"primary group without a name", "passwd deploy:x:1001:4242::/home/deploy:/bin/sh\nprimary 4242\ngroups 4242 sudo\nshadow none\n", 0,
			&userInfo{Exists: true, Name: "deploy", UID: 1001, GID: 4242, Home: "/home/deploy", Shell: "/bin/sh", Primary: "4242", Groups: []string{"sudo"}, ShadowRead: true}, ""},
		{"snippet failed", "", 1, nil, "exited 1"},
		{"getent error", "error getent passwd failed\n", 0, nil, "getent passwd failed"},
		{"empty", "", 0, nil, "unexpected line"},
		{"garbage", "hello world\n", 0, nil, "unexpected line"},
		{"short passwd", "passwd deploy:x:1001\nprimary deploy\ngroups deploy\nshadow none\n", 0, nil, "malformed passwd"},
		{"bad uid", "passwd deploy:x:abc:1001::/h:/bin/sh\nprimary deploy\ngroups deploy\nshadow none\n", 0, nil, "bad uid"},
		{"negative gid", "passwd deploy:x:1:-1::/h:/bin/sh\nprimary deploy\ngroups deploy\nshadow none\n", 0, nil, "bad gid"},
		{"missing shadow line", "passwd deploy:x:1:1::/h:/bin/sh\nprimary deploy\ngroups deploy\n", 0, nil, "no shadow line"},
		{"bad digest", "passwd deploy:x:1:1::/h:/bin/sh\nprimary deploy\ngroups deploy\nshadow $6$salt$hash\n", 0, nil, "bad shadow digest"},
		{"another account", "passwd other:x:1:1::/h:/bin/sh\nprimary deploy\ngroups deploy\nshadow none\n", 0, nil, `answered for "other"`},
		{"twice", "passwd deploy:x:1:1::/h:/bin/sh\npasswd deploy:x:1:1::/h:/bin/sh\nprimary deploy\ngroups deploy\nshadow none\n", 0, nil, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUserFact("deploy", []byte(tt.out), tt.code)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseUserFactNeverEchoesShadow(t *testing.T) {
	// A shadow line that is not a digest must not be repeated in the error.
	_, err := parseUserFact("deploy", []byte("passwd deploy:x:1:1::/h:/bin/sh\nprimary deploy\ngroups deploy\nshadow $6$SECRETSALT$SECRETHASH\n"), 0)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseGroupFact(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		code    int
		want    *groupInfo
		wantErr string
	}{
		{"absent", "absent\n", 0, &groupInfo{Name: "deploy"}, ""},
		{"no members", "group deploy:x:1500:\n", 0, &groupInfo{Exists: true, Name: "deploy", GID: 1500}, ""},
		{"members", "group deploy:x:1500:alice,bob\n", 0, &groupInfo{Exists: true, Name: "deploy", GID: 1500, Members: []string{"alice", "bob"}}, ""},
		{"failed", "", 2, nil, "exited 2"},
		{"error", "error getent group failed\n", 0, nil, "getent group failed"},
		{"garbage", "whatever\n", 0, nil, "unexpected answer"},
		{"two lines", "group deploy:x:1500:\ngroup deploy:x:1500:\n", 0, nil, "unexpected answer"},
		{"fields", "group deploy:x:1500\n", 0, nil, "malformed"},
		{"bad gid", "group deploy:x:x:\n", 0, nil, "bad gid"},
		{"another group", "group other:x:1:\n", 0, nil, "answered for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseGroupFact("deploy", []byte(tt.out), tt.code)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseHomeFact(t *testing.T) {
	tests := []struct {
		out  string
		code int
		want *homeInfo
	}{
		{"yes /home/deploy\n", 0, &homeInfo{Path: "/home/deploy", Exists: true}},
		{"no /srv/app\n", 0, &homeInfo{Path: "/srv/app"}},
		{"no /srv/app\n", 1, nil},
		{"maybe /srv/app\n", 0, nil},
		{"no relative\n", 0, nil},
		{"no /srv/app", 0, nil},
		{"no /a\nno /b\n", 0, nil},
		{"", 0, nil},
	}
	for _, tt := range tests {
		got, err := parseHomeFact("deploy", []byte(tt.out), tt.code)
		if tt.want == nil {
			if err == nil {
				t.Errorf("%q: no error", tt.out)
			}
			continue
		}
		if err != nil || *got != *tt.want {
			t.Errorf("%q: %+v %v", tt.out, got, err)
		}
	}
}

func TestParseAuthKeysFact(t *testing.T) {
	head := "user 1001 1001\ngroup deploy\nhome /home/deploy\npath /home/deploy/.ssh/authorized_keys\n"
	dir := "stat directory|700|deploy|deploy|4096\n"
	file := "stat regular file|600|deploy|deploy|4\n"
	tests := []struct {
		name    string
		out     string
		code    int
		check   func(*authKeysInfo) bool
		wantErr string
	}{
		{"no user", "nouser\n", 0, func(i *authKeysInfo) bool { return i.NoUser }, ""},
		{"content", head + dir + file + "content a2V5Cg==\n", 0, func(i *authKeysInfo) bool {
			return i.UID == 1001 && i.Group == "deploy" && i.Dir.Type == "directory" && i.File.Type == "file" && i.File.Mode == 0o600 && string(i.Content) == "key\n" && i.ContentRead
		}, ""},
		{"empty file", head + dir + "stat regular empty file|600|deploy|deploy|0\ncontent \n", 0, func(i *authKeysInfo) bool {
			return i.ContentRead && i.Content != nil && len(i.Content) == 0
		}, ""},
		{"no dir", head + "stat missing\nstat missing\n", 0, func(i *authKeysInfo) bool { return !i.Dir.Exists && !i.File.Exists }, ""},
		{"link", head + "stat symbolic link|777|deploy|deploy|5\nstat missing\n", 0, func(i *authKeysInfo) bool { return i.Dir.Type == "symlink" }, ""},
		{"unreadable", head + dir + file + "unreadable 1\n", 0, func(i *authKeysInfo) bool {
			return !i.ContentRead && strings.Contains(i.Unreadable, "cannot be opened")
		}, ""},
		{"fifo timeout", head + dir + file + "unreadable 124\n", 0, func(i *authKeysInfo) bool { return strings.Contains(i.Unreadable, "20 s") }, ""},
		{"failed", "", 1, nil, "exited 1"},
		{"error", "error stat failed\n", 0, nil, "stat failed"},
		{"garbage", "hello\n", 0, nil, "unexpected answer"},
		{"cut short", head + dir, 0, nil, "unexpected answer"},
		{"no newline", "nouser", 0, nil, "cut short"},
		{"no content for a file", head + dir + file, 0, nil, "no content"},
		{"content for a link", head + dir + "stat symbolic link|777|deploy|deploy|11\ncontent eA==\n", 0, nil, "content for a symlink"},
		{"bad base64", head + dir + file + "content !!!\n", 0, nil, "bad content"},
		{"bad stat", head + "stat directory|7x0|deploy|deploy|1\n" + file + "content \n", 0, nil, "bad mode"},
		{"relative path", "user 1 1\ngroup g\nhome x\npath x/.ssh/authorized_keys\nstat missing\nstat missing\n", 0, nil, "not absolute"},
		{"bad unreadable", head + dir + file + "unreadable x\n", 0, nil, "unexpected line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAuthKeysFact("deploy", []byte(tt.out), tt.code)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(got) {
				t.Errorf("got %+v", got)
			}
		})
	}
}
