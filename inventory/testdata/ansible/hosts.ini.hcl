defaults {
  vars = {
    region = "eu"
    role   = "all"
  }
}

host "mail.example.com" {
}
host "foo.example.com" {
  user          = "deploy"
  identity_file = "/keys/deploy"
  become        = true
  jump          = ["bastion@192.0.2.1:2222", "jumper"]
  vars = {
    role = "east"
  }
}
host "bar.example.com" {
  user          = "deploy"
  identity_file = "/keys/deploy"
  become        = true
  jump          = ["bastion@192.0.2.1:2222", "jumper"]
  vars = {
    http_port           = 8080
    maxRequestsPerChild = 808
    role                = "west"
  }
}
host "www01.example.com" {
}
host "www02.example.com" {
}
host "www03.example.com" {
}
host "one.example.com" {
  user          = "deploy"
  identity_file = "/keys/deploy"
  become        = true
  jump          = ["bastion@192.0.2.1:2222", "jumper"]
  vars = {
    role = "east"
  }
}
host "two.example.com" {
  user          = "deploy"
  identity_file = "/keys/deploy"
  become        = true
  jump          = ["bastion@192.0.2.1:2222", "jumper"]
  vars = {
    role = "west"
  }
}
host "db.example.com" {
  port = 5309
}
host "jumper" {
  address = "192.0.2.50"
  port    = 5555
}

group "ungrouped" {
  members = ["mail.example.com"]
}

group "webservers" {
  members = ["foo.example.com", "bar.example.com", "www01.example.com", "www02.example.com", "www03.example.com"]
}

group "dbservers" {
  members = ["one.example.com", "two.example.com", "db.example.com", "jumper"]
  vars = {
    ntp_server = "ntp.atlanta.example.com"
    proxy      = "proxy.atlanta.example.com"
  }
}

group "east" {
  members = ["foo.example.com", "one.example.com"]
  vars = {
    role = "east"
  }
}

group "west" {
  members = ["bar.example.com", "two.example.com"]
  vars = {
    role = "west"
  }
}

group "prod" {
  children = ["east", "west"]
  vars = {
    role = "prod"
  }
}

group "datacenter" {
  children = ["prod"]
}
