# A valid playbook: the inventory and flag cases are checked with it.
variable "workers" {
  type    = number
  default = 2
}
variable "app_dir" { default = "/srv/app" }

play "site" {
  hosts = ["web"]

  file "/etc/app/app.conf" {
    content = "workers = ${var.workers}\napp_dir = ${var.app_dir}\n"
  }
}
