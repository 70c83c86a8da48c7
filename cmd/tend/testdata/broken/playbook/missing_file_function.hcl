# file(): the local file it reads does not exist.
play "site" {
  hosts = ["web"]

  file "/etc/ssh/sshd_config.d/tend.conf" {
    content = file("files/sshd-hardening.conf")
  }
}
