defaults {
  vars = {
    depth_var = "all"
    level     = "all"
    only_all  = 1
  }
}

host "h1" {
  vars = {
    depth_var = "child"
    level     = "a"
  }
}
host "h2" {
  vars = {
    level = "b"
  }
}
host "h3" {
  vars = {
    level = "host"
  }
}

group "a_group" {
  members = ["h1"]
  vars = {
    depth_var = "child"
    level     = "a"
  }
}

group "b_group" {
  members = ["h1", "h2"]
  vars = {
    level = "b"
  }
}

group "z_group" {
  members = ["h2", "h3"]
  vars = {
    level = "z"
  }
}

group "parent" {
  children = ["a_group"]
  vars = {
    depth_var = "parent"
  }
}

group "grandparent" {
  children = ["parent"]
  vars = {
    depth_var = "gp"
    level     = "grandparent"
  }
}
