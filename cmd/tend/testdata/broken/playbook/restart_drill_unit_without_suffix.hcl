# A restart drill names the unit without its .service suffix.
play "site" {
  hosts = ["web"]

  restart_drill {
    unit = "staffrota"
    allow_without_health_check = true
  }
}
