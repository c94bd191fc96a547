"""The site workbook: its schema, parsers, reader, template writer and annotated copies."""
