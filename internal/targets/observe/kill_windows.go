package observe

import "os"

func killSelf() { os.Exit(9) }
