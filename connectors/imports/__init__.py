"""Vendor time records into billflow events: shared event building, and CSV exports.

    events      time.approved / time.unapproved / expense.approved from vendor fields,
                exact hours, and the ledger of entries once approved (for withdrawals)
    export      the steps every CSV importer shares: header, rows, errors as FILE:LINE
    harvest_csv Harvest's detailed time report export
    toggl_csv   Toggl Track's detailed report export
    command     `billflow ingest --from harvest-csv|toggl-csv FILE`
"""
