package modules

import "strings"

// RestartPolicer is implemented by modules that manage a service unit
// whose restart policy is known offline, from the playbook: a restart
// drill of a unit the play renders without one is refused before any
// connection.
type RestartPolicer interface {
	// RestartPolicy returns the unit's name and its Restart= value ("" when
	// the unit file sets none, which systemd reads as "no"); known is
	// false when the module cannot say.
	RestartPolicy() (unit, restart string, known bool)
}

var (
	_ RestartPolicer = (*SystemdUnit)(nil)
	_ RestartPolicer = (*GunicornService)(nil)
)

// RestartPolicy returns the Restart= of the [Service] section of the unit's
// content (the last one wins, as in systemd).
func (m *SystemdUnit) RestartPolicy() (string, string, bool) {
	if m.spec.File.Content == nil {
		return m.spec.Name, "", false
	}
	return m.spec.Name, serviceSetting(string(m.spec.File.Content), "Restart"), true
}

// RestartPolicy returns the restart setting the unit is rendered with.
func (m *GunicornService) RestartPolicy() (string, string, bool) {
	return m.spec.Name, m.g.Restart, true
}

// serviceSetting returns the last value of key in the [Service] section of
// a unit file, "" when it is not set there (an empty assignment resets it).
func serviceSetting(content, key string) string {
	section, value := "", ""
	for _, raw := range strings.Split(content, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line
			continue
		}
		if section != "[Service]" || line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			value = strings.TrimSpace(v)
		}
	}
	return value
}
