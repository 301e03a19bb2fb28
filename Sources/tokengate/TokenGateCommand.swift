@main
struct TokenGateCommand {
    static func main() {}
}
