# A typo in a restart drill setting.
play "site" {
  hosts = ["web"]

  restart_drill {
    unit   = "staffrota.service"
    worker = 2
    allow_without_health_check = true
  }
}
