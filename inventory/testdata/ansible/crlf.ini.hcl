defaults {
  user = "admin"
}

host "web1" {
  address = "10.0.0.1"
  jump    = ["bastion.example.com"]
  vars = {
    count = 3
    flag  = true
    list  = [1, "a"]
    lower = "true"
    motd  = "hello world"
    path  = "/srv/x"
  }
}

group "web" {
  members = ["web1"]
}
