import TokenGateAuth

/// The user as the API shows it (`/me`, login response).
struct UserDTO: Encodable {
    let id: String
    let username: String
    let name: String
    let roles: [String]

    init(_ user: User) {
        id = user.id
        username = user.username
        name = user.name
        roles = user.roles
    }
}

/// The body of a successful login or refresh.
struct TokenResponseDTO: Encodable {
    let accessToken: String
    let tokenType = "Bearer"
    let expiresIn: Int
    let user: UserDTO?
}
