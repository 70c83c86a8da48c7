# A typo in a rollout setting.
play "site" {
  hosts = ["web"]
  rollout {
    canery = 1
  }

  file "/etc/motd" {
    content = "managed by tend\n"
  }
}
