# A sensitive variable in a command's script: it would show in the host's process list.
variable "db_password" {
  default   = "changeme"
  sensitive = true
}

play "site" {
  hosts = ["web"]

  command "create-db-user" {
    run = "psql -c \"CREATE USER app PASSWORD '${var.db_password}'\""
  }
}
