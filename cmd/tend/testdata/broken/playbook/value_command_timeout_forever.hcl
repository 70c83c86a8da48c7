# command: timeout = "forever" is not a duration.
play "site" {
  hosts = ["web"]

  command "backup" {
    run     = "/usr/local/bin/backup-db"
    timeout = "forever"
  }
}
