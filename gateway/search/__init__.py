"""Finding people across scripts: name forms, the sealed search index, possible matches."""
