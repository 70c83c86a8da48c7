# A task for a canary host no inventory has: its when is false everywhere, yet its mode is wrong.
play "site" {
  hosts = ["web"]

  file "/etc/app/feature-flags" {
    content = "new_ui = true\n"
    mode    = "0x644"
    when    = host.name == "canary"
  }
}
