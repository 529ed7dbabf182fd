package main

import (
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/extension"
)

func extensions() []extension.Factory { return []extension.Factory{filestorage.NewFactory()} }
