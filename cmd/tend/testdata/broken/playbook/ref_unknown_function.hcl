# A misspelt function name: "lenght" for "length".
variable "upstreams" { default = ["127.0.0.1:8000", "127.0.0.1:8001"] }

play "site" {
  hosts = ["web"]

  file "/etc/app/upstreams" {
    content = "count = ${lenght(var.upstreams)}\n"
  }
}
