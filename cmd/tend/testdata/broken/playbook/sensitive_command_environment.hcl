# A sensitive value in a command's environment (passed on the command line).
variable "db_password" {
  default   = "changeme"
  sensitive = true
}

play "site" {
  hosts = ["web"]

  command "migrate" {
    run         = "cd /srv/app && venv/bin/python manage.py migrate"
    environment = { DATABASE_PASSWORD = var.db_password }
  }
}
