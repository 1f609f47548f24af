module example.com/slowfixture

go 1.26
