package integration
func stopShared() {}
