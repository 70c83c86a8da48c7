defaults {
  connection = "local"
}

host "ihavenogroup" {
}
host "hostinall" {
}
host "test1" {
  vars = {
    myvar = "something"
  }
}
host "test2" {
  vars = {
    myvar    = "something2"
    othervar = "stuff"
  }
}
host "test3" {
}
host "test4" {
}
host "test5" {
}
host "test6" {
}

group "ungrouped" {
  members = ["ihavenogroup", "hostinall"]
}

group "test_group1" {
  members = ["test1", "test2", "test3"]
}

group "test_group2" {
  members = ["test1", "test4", "test5"]
}

group "test_group3" {
  members = ["test2", "test3", "test6"]
}

group "parent_1" {
  children = ["test_group1"]
}

group "parent_2" {
  children = ["test_group1"]
}

group "parent_3" {
  children = ["test_group2", "test_group3"]
}
