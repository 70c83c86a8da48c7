play "a" {
hosts=["web"]
  file "x" {
      path = "/x" # trailing comment  
 content="y"
  mode = "0644"
}



  command "c" {
    run = <<-EOT
      echo ${var.x}
    EOT
  }
}
