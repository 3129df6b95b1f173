package daemon

func (d *Daemon) addRules() {}
func (d *Daemon) delRules() {}
