# YAML/JSON habit: "key: value" instead of "key = value".
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content: "Managed by tend\n"
  }
}
