# file: state = "absent" together with content.
play "site" {
  hosts = ["web"]

  file "/etc/cron.d/old-backup" {
    state   = "absent"
    content = "0 3 * * * root /usr/local/bin/backup\n"
  }
}
