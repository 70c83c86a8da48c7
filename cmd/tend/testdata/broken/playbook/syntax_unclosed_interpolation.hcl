# An interpolation is not closed: "${var.app_dir" lacks its "}".
variable "app_dir" { default = "/srv/app" }

play "site" {
  hosts = ["web"]

  file "motd" {
    path    = "${var.app_dir/motd"
    content = "Managed by tend\n"
  }
}
