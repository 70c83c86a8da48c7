# A misspelt restart_drill block.
play "site" {
  hosts = ["web"]

  restart_dril {
    unit = "staffrota.service"
  }
}
