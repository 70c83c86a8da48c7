# Single quotes, as in YAML or shell: HCL strings take double quotes.
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content = 'Managed by tend'
  }
}
