# file: state = "deleted"; it takes "present" or "absent".
play "site" {
  hosts = ["web"]

  file "/etc/cron.d/old-backup" {
    state = "deleted"
  }
}
