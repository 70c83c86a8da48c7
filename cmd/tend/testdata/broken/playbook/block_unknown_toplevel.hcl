# A top-level block tend does not know: tasks go inside a play.
play "site" {
  hosts = ["web"]
}

task "motd" {
  file "/etc/motd" { content = "Managed by tend\n" }
}
