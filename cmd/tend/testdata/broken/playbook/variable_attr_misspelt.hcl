# "defualt" instead of "default" in a variable.
variable "app_dir" {
  defualt = "/srv/app"
}

play "site" {
  hosts = ["web"]
  directory "app" { path = var.app_dir }
}
