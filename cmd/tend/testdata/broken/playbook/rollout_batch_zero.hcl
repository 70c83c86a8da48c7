# A batch of no hosts would never finish.
play "site" {
  hosts = ["web"]
  rollout {
    canary = 1
    batch  = 0
  }

  file "/etc/motd" {
    content = "managed by tend\n"
  }
}
