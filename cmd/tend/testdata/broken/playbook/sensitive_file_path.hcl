# A sensitive variable used in a file's path.
variable "api_token" {
  default   = "changeme"
  sensitive = true
}

play "site" {
  hosts = ["web"]

  file "token" {
    path    = "/etc/app/tokens/${var.api_token}"
    content = "1\n"
  }
}
