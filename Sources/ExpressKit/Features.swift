public enum Features {
    /// The mod_wsgi-express release whose command line this one reproduces.
    public static let version = "4.9.4"
}
