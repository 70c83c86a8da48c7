# become = "yes" (Ansible style): it takes true or false.
play "site" {
  hosts  = ["web"]
  become = "yes"

  file "/etc/motd" {
    content = "Managed by tend\n"
  }
}
