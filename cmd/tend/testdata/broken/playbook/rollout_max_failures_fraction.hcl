# max_failures as a fraction instead of a percentage.
play "site" {
  hosts = ["web"]
  rollout {
    batch        = "25%"
    max_failures = 0.1
  }

  file "/etc/motd" {
    content = "managed by tend\n"
  }
}
