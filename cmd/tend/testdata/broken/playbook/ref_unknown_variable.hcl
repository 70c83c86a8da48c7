# A typo in a variable reference: var.app_dri for var.app_dir.
variable "app_dir" { default = "/srv/app" }

play "site" {
  hosts = ["web"]

  directory "static" {
    path = "${var.app_dri}/static"
  }
}
